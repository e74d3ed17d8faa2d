"""Image inpainters for pixels no frame shows, one per module: the harmonic membrane
(:mod:`.harmonic`), texture over it (:mod:`.texture`), OpenCV Telea and Navier-Stokes
(:mod:`.opencv`), exemplar PatchMatch (:mod:`.patchmatch`), Deep Image Prior (:mod:`.dip`), the
gated network (:mod:`.gated`); the crop they work on (:mod:`.crops`), the optional Poisson blend
of a fill (:mod:`.poisson_blend`), and the registry of them by name (:mod:`.registry`)."""
