"""Pure tensor stages of the pipeline, one per file: flow, flow edges, flow completion,
propagation, fusion (and its Poisson solver), hole helpers. They import only the core
(config, types, errors), the networks they apply (:mod:`vidfill.models`, built by the
caller) and each other; they read no files and pick no devices."""
