"""The LOG: who changed what, when and from where."""
