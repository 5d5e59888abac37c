"""Baselines of ``bench/locomo.py``, computed in the bench process over the same turns the service stores.

* BM25: bm25s (Lucene scoring, k1 1.5, b 0.75, its defaults) over each turn's content, English stopwords and
  the Snowball English stemmer (PyStemmer), one index per conversation, the raw question as the query.
* Plain dense: the packaged all-MiniLM-L6-v2 (the model ``memos.embedding.Embedder`` loads) over each turn's
  content alone (no speaker prefix, no blending with the previous turn), the raw question embedded the same
  way, exact cosine over the conversation's turns (no index). This is the "just embed the text" baseline;
  the service's ``mode=dense`` is reported beside it because it searches the service's own vectors.
"""

from __future__ import annotations

import numpy as np
from _locomo import Question, Scores
from tqdm import tqdm

from memos.embedding import Embedder
from memos.importers import LocomoConversation

BM25_LABEL = "BM25 (bm25s, stemmed)"
DENSE_LABEL = "plain MiniLM dense"


def bm25(convs: list[LocomoConversation], questions: list[Question]) -> Scores:
    import bm25s
    import Stemmer  # PyStemmer, in the dev extra: the baseline is not run without stemming

    stemmer = Stemmer.Stemmer("english")
    indexes = []
    for conv in convs:
        retriever = bm25s.BM25()
        corpus = bm25s.tokenize([m.content for m in conv.memories], stopwords="en", stemmer=stemmer,
                                show_progress=False)
        retriever.index(corpus, show_progress=False)
        indexes.append(retriever)
    scores = Scores()
    for q in tqdm(questions, desc="BM25 baseline", unit="q", leave=False):
        tokens = bm25s.tokenize([q.text], stopwords="en", stemmer=stemmer, return_ids=False,
                                show_progress=False)[0]
        s = indexes[q.conv].get_scores(tokens)
        order = np.argsort(-s, kind="stable")[:10]
        scores.add(q, [str(convs[q.conv].memories[i].metadata["dia_id"]) for i in order])
    return scores


def plain_dense(convs: list[LocomoConversation], questions: list[Question], embedder: Embedder) -> Scores:
    mats = [embedder.embed([m.content for m in conv.memories])
            for conv in tqdm(convs, desc="plain dense: embed turns", unit="conv", leave=False)]
    qv = embedder.embed([q.text for q in questions])
    scores = Scores()
    for q, v in zip(questions, qv, strict=True):
        sims = mats[q.conv] @ v  # vectors are L2-normalised: dot product = cosine
        order = np.argsort(-sims, kind="stable")[:10]
        scores.add(q, [str(convs[q.conv].memories[i].metadata["dia_id"]) for i in order])
    return scores
