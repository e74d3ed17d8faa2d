"""Networks with their weights: the manifest and lookup (:mod:`.weights`), building what a
config names (:mod:`.build`), and training vidfill's own (:mod:`.train`)."""
