"""Stories: the same event reported by several sources, grouped when an article is extracted.

fingerprint.py finds copies (near-identical text), boilerplate.py leaves a site's repeated
text (banners, navigation) out of an article's lead, similarity.py turns an article into
weighted terms, grouping.py places an article into a story through a StoryStore (store.py
keeps stories in the database, grouping.MemoryStore in memory for cluster_eval), and
evaluation.py scores a grouping against gold labels."""
