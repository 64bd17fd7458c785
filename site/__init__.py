"""The public site: templates and assets (rendered by liushuang.generator.site)."""
