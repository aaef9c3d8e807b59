"""A plain convolutional autoencoder as a full method of the kit: trained with L1 on labeled normals,
score = mean |x − AE(x)| / 2. The simplest reconstruction method, and the proof that a method is
only its network, its loss, one step and its scoring (`method.py`); the engine does the rest."""
