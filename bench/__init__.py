"""implicit-bench: does an implicit shape encoder's latent code carry more than shape?"""

__version__ = "0.1.0"
