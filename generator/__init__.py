"""Read, validate, decide what is published, render, index, write."""
