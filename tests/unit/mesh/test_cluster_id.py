"""Cluster ids the KRaft storage tool accepts."""

from __future__ import annotations

import base64

from nexus_mesh.localkafka.cluster import new_cluster_id


def test_cluster_ids_are_16_bytes_and_never_look_like_options() -> None:
    ids = [new_cluster_id() for _ in range(5000)]
    # With 5000 draws a leading '-' (1 in 64) would appear about 78 times if not prevented.
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
