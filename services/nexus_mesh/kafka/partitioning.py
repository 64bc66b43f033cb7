"""Which partition holds a campaign: the same murmur2 rule producers use for the record key."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def campaign_partition(campaign_id: str, partitions: int) -> int:
    # Must match the producers' default partitioner (and Java's) for key=campaign_id, or a
    # gateway would listen on a partition its campaign's events never reach.
    hashed: int = murmur2(campaign_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions
