"""The query box every dataset shares: the unit cube padded by ``BOX_PAD`` on each axis, as in
Occupancy Networks, so that query points and meshes also cover a little empty space around the shape."""

from __future__ import annotations

BOX_PAD = 0.1  # total padding per axis (ONet's ``padding``)
BOX_BOUND = 0.5 + BOX_PAD / 2  # half side of the query box: [-BOX_BOUND, BOX_BOUND]^3 = [-0.55, 0.55]^3
