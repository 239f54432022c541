"""Pure geometry: signed distance primitives, surface sampling, nearest neighbours, Voronoi labelling, occupancy.
Arrays in, arrays out."""
