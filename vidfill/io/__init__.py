"""Files: frames, masks and outputs (:mod:`.media`), and the work directory of a resumable
run (:mod:`.workdir`)."""
