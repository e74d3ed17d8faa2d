"""Named pipeline presets (TOML); installed as ``vidfill.presets``, loaded by ``--pipeline NAME``."""
