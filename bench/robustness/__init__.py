"""Test-time corruptions of an encoder's input, and the evaluation of saved models under them."""
