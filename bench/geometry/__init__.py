"""Pure geometry: signed distance primitives, sampling, Voronoi labelling, occupancy. Arrays in, arrays out."""
