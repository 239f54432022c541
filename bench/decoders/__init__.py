"""Built-in point decoders, registered in the ``bench.decoders`` entry-point group like third-party ones.

Contract: ``factory(latent_dim=D, out_channels=C, hidden=H, blocks=K, **decoder_kwargs)`` builds an
``nn.Module`` whose ``forward(points (B, M, 3), z (B, D)) -> (B, M, C)`` logits.
"""
