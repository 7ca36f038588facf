from hypothesis import given
from hypothesis import strategies as st

from services.listing.domain.ip import (
    IpType,
    invalid_ip_number,
    invalid_patent_number,
    patent_check_digit,
)


def test_the_issue_example_has_a_wrong_check_digit():
    assert "check digit 6 is wrong" in invalid_patent_number("ZL201510012345.6")
    assert invalid_patent_number("ZL201510012345.3") is None


def test_old_eight_digit_numbers_and_x_check_digits():
    digits = "98123456"
    assert invalid_patent_number(f"{digits}.{patent_check_digit(digits)}") is None
    x = next(f"20191{n:07d}" for n in range(10_000) if patent_check_digit(f"20191{n:07d}") == "X")
    assert invalid_patent_number(f"ZL{x}.X") is None


def test_malformed_numbers_are_refused():
    for bad in ["", "ZL2015100123453", "ZL20151001234.3", "ZL201570012345.1", "专利201510012345.3"]:
        assert invalid_patent_number(bad), bad


@given(st.from_regex(r"20[0-2][0-9][12389][0-9]{7}", fullmatch=True))
def test_any_number_with_its_check_digit_is_valid_and_any_other_digit_is_not(digits):
    check = patent_check_digit(digits)
    assert invalid_patent_number(f"ZL{digits}.{check}") is None
    wrong = "0" if check != "0" else "1"
    assert invalid_patent_number(f"ZL{digits}.{wrong}") is not None


def test_other_ip_types():
    assert invalid_ip_number(IpType.SOFTWARE_COPYRIGHT, "2019SR0123456") is None
    assert invalid_ip_number(IpType.SOFTWARE_COPYRIGHT, "SR123") is not None
    assert invalid_ip_number(IpType.TRADE_SECRET, "内部编号-7") is None
