import dataclasses

import kornia
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidfill.models import weights
from vidfill.stages.completion import complete_flow
from vidfill.config import EdgeConfig
from vidfill.models.flow_edges import EdgeGenerator
from vidfill.stages.edges import complete_edges, flow_edges, hysteresis, network_input
from vidfill.models.build import Models, build_edge_model, build_inpainter
from vidfill.models.train import synthetic_flow


def step_flow(h: int = 40, w: int = 48, column: int = 24, jump: float = 6.0) -> torch.Tensor:
    """(1, 2, h, w): 1 px/frame to the right on the left of ``column``, 1 + jump on its right."""
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0] = 1.0
    flow[:, 0, :, column:] += jump
    return flow


def test_flow_edges_finds_a_motion_boundary_and_nothing_in_smooth_motion():
    flow = step_flow()
    no_hole = torch.zeros(1, 1, 40, 48, dtype=torch.bool)
    edges = flow_edges(flow, no_hole, EdgeConfig())
    columns = edges[0, 0].any(0).nonzero().flatten().tolist()
    assert columns and all(22 <= c <= 25 for c in columns)
    assert edges[0, 0, 5:35].any(1).all()  # the boundary is found along its whole length

    yy, xx = torch.meshgrid(torch.arange(40.0), torch.arange(48.0), indexing="ij")
    zoom = torch.stack([0.05 * (xx - 24), 0.05 * (yy - 20)])[None]  # smooth: 0.05 px/px
    assert not flow_edges(zoom, no_hole, EdgeConfig()).any()

    hole = no_hole.clone()
    hole[..., 10:30, 15:35] = True
    assert not (flow_edges(flow, hole, EdgeConfig()) & hole).any()


def test_flow_edges_of_many_fields_are_each_fields_own():
    # flow_edges runs Canny a few fields at a time (CANNY_CHUNK) to bound its memory
    from vidfill.stages.edges import CANNY_CHUNK

    rng = np.random.default_rng(5)
    n = 2 * CANNY_CHUNK + 1
    flow = torch.from_numpy(np.stack([synthetic_flow(rng, 48, 64) for _ in range(n)]))
    hole = torch.zeros(n, 1, 48, 64, dtype=torch.bool)
    hole[::2, :, 10:30, 20:40] = True
    together = flow_edges(flow, hole, EdgeConfig())
    alone = torch.cat([flow_edges(flow[i:i + 1], hole[i:i + 1], EdgeConfig()) for i in range(n)])
    assert together.sum() > 100
    assert torch.equal(together, alone)


def test_hysteresis_matches_kornias_iterative_one():
    rng = np.random.default_rng(3)
    flow = torch.from_numpy(np.stack([synthetic_flow(rng, 64, 64) for _ in range(4)]))
    flat = flow.reshape(8, 1, 64, 64)
    _, iterative = kornia.filters.canny(flat, 2.0, 4.0, hysteresis=True)
    _, graded = kornia.filters.canny(flat, 2.0, 4.0, hysteresis=False)
    assert iterative.sum() > 100
    assert torch.equal(iterative[:, 0] > 0, hysteresis(graded[:, 0]))


def test_edge_generator_shapes_and_validation():
    torch.manual_seed(0)
    model = EdgeGenerator(width=4, blocks=1).eval()
    out = model(torch.randn(2, 4, 16, 20))
    assert out.shape == (2, 1, 16, 20) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="multiples of 4"):
        model(torch.randn(1, 4, 15, 20))
    with pytest.raises(ValueError, match="4, h, w"):
        model(torch.randn(1, 3, 16, 20))


def test_network_input_hides_the_hole_and_ignores_constant_motion():
    flow = step_flow()
    hole = torch.zeros(1, 1, 40, 48, dtype=torch.bool)
    hole[..., 10:30, 10:30] = True
    edges = flow_edges(flow, hole, EdgeConfig())
    x = network_input(flow, edges, hole)
    assert x.shape == (1, 4, 40, 48)
    assert (x[:, :3][hole.expand(1, 3, 40, 48)] == 0).all() and (x[:, 3:] == hole).all()
    assert torch.allclose(network_input(flow + 7.0, edges, hole), x, atol=1e-6)


def test_complete_edges_keeps_known_edges_and_draws_only_in_the_hole():
    torch.manual_seed(0)
    model = EdgeGenerator(width=4, blocks=1).eval()
    flow = step_flow().repeat(3, 1, 1, 1)
    hole = torch.zeros(3, 1, 40, 48, dtype=torch.bool)
    hole[0, :, 10:30, 10:30] = True
    hole[1, :, 3:9, 40:45] = True  # the crop meets the frame border; frame 2 has no hole
    known = flow_edges(flow, hole, EdgeConfig())
    calls = []
    everything = EdgeConfig(threshold=0.0, context=4, connected=False)
    out = complete_edges(model, flow, known, hole, everything, calls.append)
    assert calls == [1, 1, 1]
    assert torch.equal(out & ~hole, known)
    assert torch.equal(out & hole, hole)  # threshold 0: every hole pixel is drawn
    # only drawings that continue a known edge are kept: hole 0 lies on the motion
    # boundary (column 24), hole 1 is far from any known edge
    out = complete_edges(model, flow, known, hole, dataclasses.replace(everything, connected=True))
    assert torch.equal(out[0] & hole[0], hole[0]) and not (out[1] & hole[1]).any()
    out = complete_edges(model, flow, known, hole, EdgeConfig(threshold=1.0))
    assert torch.equal(out, known)


def test_edges_keep_a_motion_boundary_sharp_through_the_hole():
    flow = step_flow()
    hole = torch.zeros(1, 1, 40, 48, dtype=torch.bool)
    hole[..., 8:32, 12:36] = True
    truth_edges = flow_edges(flow, torch.zeros_like(hole), EdgeConfig())
    diffused = complete_flow(flow, hole).flow
    guided = complete_flow(flow, hole, edges=truth_edges).flow
    def epe(f, where=hole):
        return float((f - flow).norm(dim=1)[where[:, 0]].mean())

    assert epe(diffused) > 1.0
    # only the one-pixel edge column itself is ambiguous (it lies on the boundary)
    assert epe(guided) < 0.15 * epe(diffused)
    assert epe(guided, hole & ~truth_edges) < 0.01
    with pytest.raises(ValueError, match="edges must be bool"):
        complete_flow(flow, hole, edges=truth_edges.float())


def test_edge_weights_load_through_the_manifest(tmp_path, monkeypatch):
    entry = weights.MANIFEST["flow_edges"]
    assert entry.url is None and entry.filename == f"flow_edges-{entry.sha256_prefix}.pth"
    monkeypatch.setenv("VIDFILL_CHECKPOINTS", str(tmp_path))
    torch.manual_seed(1)
    trained = entry.build()
    torch.save(trained.state_dict(), tmp_path / "trained.pth")
    entry = dataclasses.replace(entry, sha256_prefix=weights.sha256_of(tmp_path / "trained.pth")[:8])
    monkeypatch.setitem(weights.MANIFEST, "flow_edges", entry)  # its own weights, its own hash
    (tmp_path / "trained.pth").rename(tmp_path / entry.filename)
    notes = []

    class Notes:
        def note(self, text):
            notes.append(text)

        warn = note

    model = build_edge_model(EdgeConfig(method="network"), Notes())
    assert str(tmp_path) in notes[0]
    x = torch.randn(1, 4, 16, 16)
    with torch.inference_mode():
        assert torch.equal(model(x), trained.eval()(x))


def test_missing_edge_weights_fall_back_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDFILL_CHECKPOINTS", str(tmp_path))
    monkeypatch.setattr(weights, "checkpoint_dirs", lambda: [tmp_path])
    notes = []

    class Notes:
        def note(self, text):
            notes.append(text)

        warn = note

    assert build_edge_model(EdgeConfig(method="network"), Notes()) is None
    assert "no flow_edges weights" in notes[0] and "without edges" in notes[0]
    assert build_edge_model(EdgeConfig(method="none"), Notes()) is None and len(notes) == 1


def test_pipeline_runs_with_an_edge_network():
    from conftest import translating_clip
    from vidfill.config import PipelineConfig
    from vidfill.pipeline import inpaint_video

    frames = translating_clip(6, 40, 48)
    masks = torch.zeros(6, 1, 40, 48, dtype=torch.bool)
    masks[:, :, 12:28, 16:32] = True
    torch.manual_seed(0)
    model = EdgeGenerator(width=4, blocks=1).eval()
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    cfg = PipelineConfig().replace(flow={"method": "dis"}, edges={"method": "network"})
    result = inpaint_video(frames, masks, cfg,
                           models=Models(flow=None, edges=model, inpainter=build_inpainter(cfg)))
    assert len(calls) == 2 * 5  # every forward and backward field
    assert torch.equal(result.frames[~masks.expand_as(frames)], frames[~masks.expand_as(frames)])


def test_the_shipped_edge_network_loads_with_no_flags(monkeypatch):
    """checkpoints/ holds the trained network under the name the manifest gives it."""
    monkeypatch.delenv("VIDFILL_CHECKPOINTS", raising=False)
    entry = weights.MANIFEST["flow_edges"]
    path = weights.checkpoint_dirs()[-1] / entry.filename
    assert path.is_file(), f"{path} is missing"
    assert weights.sha256_of(path).startswith(entry.sha256_prefix)
    model = build_edge_model(EdgeConfig(method="network"))
    # it draws the continuation of a straight motion boundary across a hole
    flow = step_flow(96, 96, column=48)
    hole = torch.zeros(1, 1, 96, 96, dtype=torch.bool)
    hole[..., 30:66, 30:66] = True
    known = flow_edges(flow, hole, EdgeConfig())
    drawn = complete_edges(model, flow, known, hole, EdgeConfig()) & hole
    truth = flow_edges(flow, torch.zeros_like(hole), EdgeConfig()) & hole
    assert drawn.sum() > 0.5 * truth.sum()
    assert (drawn & (F.max_pool2d(truth.float(), 5, 1, 2) > 0)).sum() > 0.8 * drawn.sum()


def test_connectivity_off_the_host_is_opencvs(monkeypatch):
    from vidfill.stages import edges

    torch.manual_seed(0)
    pixels = torch.rand(4, 60, 70) > 0.45  # near the percolation threshold: long winding paths
    seeds = torch.rand(4, 60, 70) > 0.995
    seeds[3] = False
    host = edges.connected_to(pixels, seeds)
    monkeypatch.setattr(edges, "on_host", lambda x: False)
    assert torch.equal(edges.connected_to(pixels, seeds), host)
    assert host[:3].any() and not host[3].any()
