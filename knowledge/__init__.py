"""Knowledge base: the document model, importers, the store and the bundled sample."""
