"""Datasets: the on-disk format, its reader, the synthetic generator, adapters and the torch Dataset."""
