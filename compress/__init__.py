"""Model compression: structured pruning (torch-pruning) and int8 post-training quantization."""
