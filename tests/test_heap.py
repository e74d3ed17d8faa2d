import sys

from vidfill import heap


def test_release_free_memory_is_glibcs_trim_or_nothing(monkeypatch):
    heap.release_free_memory()  # whatever this platform's C library is
    heap._malloc_trim.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert heap._malloc_trim() is None
        heap.release_free_memory()
    finally:
        heap._malloc_trim.cache_clear()
