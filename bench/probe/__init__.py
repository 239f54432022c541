"""Probes of frozen encoders, run on cached latents: the battery behind `bench probe`."""
