"""``cycle_collection_held``: the collector is off inside and given back as it was found."""

import gc

import pytest
from plano_pulumi.core.cycles import cycle_collection_held


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_off_inside_and_given_back_as_found(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with pytest.raises(ValueError), cycle_collection_held():
            assert not gc.isenabled()
            raise ValueError("the block fails")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
