from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_for(client, url, **params) -> int:
    """How many SQL queries one GET of `url` takes."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


def assert_query_count_flat(client, url, add_rows, **params):
    """The page takes as many queries with many more rows as with a few."""
    add_rows(3)
    few = queries_for(client, url, **params)
    add_rows(30)
    many = queries_for(client, url, **params)
    assert many == few, f"{url}: {few} queries with few rows, {many} with many"
