"""Property-based fuzz of training-config parsing (hypothesis): any YAML value for any field
gives a valid TrainConfig or a ValueError that names the field, never another exception."""

import dataclasses

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edsr_lite.train import TrainConfig, read_yaml

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]

# What YAML can hold: scalars, then lists and mappings of them, nested.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["2", "no", "false", "1e-4", "Set5", "holdout", "T91", "cuda:0", "auto"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _parse(values: dict, tmp_path) -> None:
    """Through a real YAML file, as ``edsr-lite train --config`` reads it."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(values))
    return TrainConfig.from_dict(read_yaml(path))


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(FIELDS), value=VALUES)
def test_any_value_of_any_field_is_valid_or_a_value_error_naming_it(tmp_path, name, value):
    try:
        config = _parse({name: value}, tmp_path)
    except ValueError as err:
        assert name in str(err), (name, value, str(err))
        return
    config.validate()  # what from_dict accepted stays valid
    assert TrainConfig.from_dict(config.to_dict()) == config


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5))
def test_several_fields_at_once_never_raise_anything_but_value_error(tmp_path, values):
    try:
        _parse(values, tmp_path)
    except ValueError as err:
        assert any(name in str(err) for name in values), (values, str(err))
