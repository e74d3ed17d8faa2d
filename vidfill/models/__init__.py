"""Networks with their weights, one network per module: the flow-edge network
(:mod:`.flow_edges`), the gated generator (:mod:`.gated`), Deep Image Prior's network
(:mod:`.dip`) and torchvision's RAFT (:mod:`.raft`); the manifest and lookup (:mod:`.weights`).
The stages and inpainters import these and apply them. Above them: building what a config
names (:mod:`.build`, the one loader) and training vidfill's own (:mod:`.train`)."""
