"""Training: model assembly, protocols (single / joint / frozen), suites, checkpoints and resume."""
