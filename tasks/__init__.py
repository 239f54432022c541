"""Built-in task plugins: reconstruction, classification, segmentation."""
