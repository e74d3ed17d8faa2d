"""Weights vidfill trained itself, with their cards; installed as ``vidfill.checkpoints``."""
