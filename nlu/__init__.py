"""Understanding a citizen's message: normalisation, tokens, entities, intent, category."""
