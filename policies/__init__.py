"""The learners: the VLA transformer, behaviour cloning and the stable-baselines3 adapter."""
