"""Image inpainters for pixels no frame shows, as a registry (:mod:`.registry`): harmonic,
OpenCV, PatchMatch, Deep Image Prior, gated network."""
