"""A user's series CSV: every bad input names the file, the line or column, and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from bp_app.data.series import SeriesCSVDataModule
from bp_app.data.series_csv import read_series_csv
from bp_app.errors import DataError


def write(tmp_path, text: str):
    path = tmp_path / "sales.csv"
    path.write_text(text)
    return path


def monthly(n: int, start_year: int = 2000) -> list[str]:
    return [f"{start_year + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


def test_reads_values_and_dates(tmp_path):
    path = write(tmp_path, "month,sales,other\n2000-01,1.5,x\n2000-02,2,y\n2000-03,4,z\n")
    series = read_series_csv(path, "sales", "month")
    np.testing.assert_array_equal(series.values, [1.5, 2.0, 4.0])
    assert [str(d) for d in series.dates] == ["2000-01", "2000-02", "2000-03"]
    assert series.name == "sales" and series.source == str(path)


def test_missing_value_names_line_and_offers_interpolation(tmp_path):
    path = write(tmp_path, "month,sales\n2000-01,1\n2000-02,\n2000-03,NA\n2000-04,4\n")
    with pytest.raises(DataError) as error:
        read_series_csv(path, "sales", "month")
    message = str(error.value)
    assert str(path) in message and "'sales'" in message and "line(s) 3, 4" in message
    assert "data.fill=interpolate" in message
    # Only when asked: linear interpolation between the neighbours.
    filled = read_series_csv(path, "sales", "month", fill="interpolate")
    np.testing.assert_allclose(filled.values, [1.0, 2.0, 3.0, 4.0])


def test_a_gap_at_the_edge_cannot_be_interpolated(tmp_path):
    path = write(tmp_path, "sales\n\n2\n3\n")
    with pytest.raises(DataError, match=r"line\(s\) 2.*Remove those rows"):
        read_series_csv(path, "sales", fill="interpolate")


def test_non_numeric_value_names_line_column_and_fix(tmp_path):
    path = write(tmp_path, "month,sales\n2000-01,1\n2000-02,12a\n")
    with pytest.raises(DataError) as error:
        read_series_csv(path, "sales", "month")
    message = str(error.value)
    assert f"{path} line 3, column 'sales': '12a' is not a number" in message
    assert "Correct the value" in message


def test_missing_column_lists_the_columns(tmp_path):
    path = write(tmp_path, "month,sales\n2000-01,1\n")
    with pytest.raises(DataError) as error:
        read_series_csv(path, "revenue", "month")
    message = str(error.value)
    assert f"{path} has no column 'revenue'" in message
    assert "'month', 'sales'" in message and "data.value_column=" in message
    semicolons = write(tmp_path, "month;sales\n2000-01;1\n")
    with pytest.raises(DataError, match="commas between columns"):
        read_series_csv(semicolons, "sales")


def test_unsorted_dates_name_both_lines(tmp_path):
    path = write(tmp_path, "month,sales\n2000-01,1\n2000-03,2\n2000-02,3\n")
    with pytest.raises(DataError) as error:
        read_series_csv(path, "sales", "month")
    message = str(error.value)
    assert "line 4, column 'month'" in message and "before 2000-03 on line 3" in message
    assert "Sort the file by 'month'" in message


def test_duplicated_dates_name_both_lines(tmp_path):
    path = write(tmp_path, "month,sales\n2000-01,1\n2000-02,2\n2000-02,3\n")
    with pytest.raises(DataError, match=r"line 4, column 'month': date 2000-02 repeats line 3"):
        read_series_csv(path, "sales", "month")


def test_unreadable_date_asks_for_iso(tmp_path):
    path = write(tmp_path, "day,sales\n2000-01-01,1\n01/02/2000,2\n")
    with pytest.raises(DataError, match=r"line 3, column 'day'.*YYYY-MM-DD"):
        read_series_csv(path, "sales", "day")


def test_missing_file_says_which(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv does not exist; set data.path"):
        read_series_csv(tmp_path / "nope.csv", "sales")


def test_short_series_names_the_sizes_and_fix(tmp_path):
    rows = "\n".join(f"{m},{i + 1}" for i, m in enumerate(monthly(30)))
    path = write(tmp_path, "month,sales\n" + rows + "\n")
    data = SeriesCSVDataModule(
        path=str(path), value_column="sales", date_column="month", lookback=12, test_size=24
    )
    with pytest.raises(DataError) as error:
        data.loaded()
    message = str(error.value)
    assert f"{path} has 30 points" in message
    assert "data.lookback=12 + data.horizon=1 + data.val_size=12 + data.test_size=24" in message
    assert "lower data.lookback" in message


def test_csv_data_module_windows(tmp_path):
    rows = "\n".join(f"{m},{10 + i}" for i, m in enumerate(monthly(48)))
    path = write(tmp_path, "month,sales\n" + rows + "\n")
    data = SeriesCSVDataModule(
        path=str(path), value_column="sales", date_column="month", lookback=6, test_size=12
    )
    splits = data.loaded()
    assert len(splits["test"][0]) == 12 and splits["train"][0].shape[1:] == (6, 1)
    assert data.prediction_state()["dates"][-1] == "2003-12"
