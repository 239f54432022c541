"""Built-in task plugins (reconstruction, classification, segmentation) and the point decoders."""
