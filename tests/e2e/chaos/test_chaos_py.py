#!/usr/bin/env python3
"""The chaos test's own checks on made-up histories: what counts as an
acknowledged write that must be present, how operations map to the
checker's input, and the revision cross-check. A check that cannot fail
proves nothing, so each is shown failing too."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402


def op(kind, key, status, value=0, rev=None, read=None, call=0, ret=1):
    o = {"kind": kind, "key": key, "status": status, "value": value, "rev": rev,
         "call_us": call, "ret_us": ret, "node": "n1", "client": 0}
    o["outcome"] = chaos.classify(kind, status)
    if read is not None:
        o["read"] = read
    return o


class Present(unittest.TestCase):
    def test_last_acknowledged_put_must_be_visible(self):
        ops = [op("put", 0, 200, 11, 5), op("put", 0, 200, 12, 7)]
        self.assertEqual(chaos.acknowledged_present(ops, {0: ("12", 7)}), [])
        self.assertTrue(chaos.acknowledged_present(ops, {0: ("11", 5)}))
        self.assertTrue(chaos.acknowledged_present(ops, {0: None}))

    def test_acknowledged_delete_leaves_the_key_absent(self):
        ops = [op("put", 0, 200, 11, 5), op("del", 0, 200, 0, 6)]
        self.assertEqual(chaos.acknowledged_present(ops, {0: None}), [])
        self.assertTrue(chaos.acknowledged_present(ops, {0: ("11", 5)}))

    def test_unknown_write_may_win_later(self):
        ops = [op("put", 0, 200, 11, 5), op("put", 0, 503, 12),
               op("del", 1, 200, 0, 3), op("del", 1, "timeout")]
        self.assertEqual(chaos.acknowledged_present(ops, {0: ("12", 9), 1: None}), [])
        ops2 = [op("put", 1, 200, 21, 5), op("del", 1, "timeout")]
        self.assertEqual(chaos.acknowledged_present(ops2, {1: None}), [])

    def test_failed_write_must_not_appear(self):
        ops = [op("put", 0, 200, 11, 5), op("put", 0, 400, 12), op("put", 0, "refused", 13)]
        self.assertTrue(chaos.acknowledged_present(ops, {0: ("12", 9)}))
        self.assertTrue(chaos.acknowledged_present(ops, {0: ("13", 9)}))


class Lines(unittest.TestCase):
    def test_mapping(self):
        self.assertEqual(chaos.lin_line(op("put", 2, 200, 11, 5, call=3, ret=4)),
                         "2 put known 11 0 3 4")
        self.assertEqual(chaos.lin_line(op("put", 2, 503, 11, call=3)),
                         "2 put unknown 11 0 3 0")
        self.assertEqual(chaos.lin_line(op("del", 2, 200, 0, 6, call=3, ret=4)),
                         "2 put known 0 0 3 4")
        self.assertEqual(chaos.lin_line(op("del", 2, 404, call=3, ret=4)),
                         "2 get known 0 0 3 4")
        self.assertEqual(chaos.lin_line(op("get", 2, 200, read="11", call=3, ret=4)),
                         "2 get known 0 11 3 4")
        self.assertEqual(chaos.lin_line(op("get", 2, 404, read="", call=3, ret=4)),
                         "2 get known 0 0 3 4")
        self.assertIsNone(chaos.lin_line(op("get", 2, "timeout")))
        self.assertIsNone(chaos.lin_line(op("put", 2, 409, 11)))
        self.assertIsNone(chaos.lin_line(op("put", 2, "refused", 11)))


class Revisions(unittest.TestCase):
    def test_read_revision_matches_write(self):
        ops = [op("put", 0, 200, 11, 5), op("get", 0, 200, read="11", rev=5)]
        self.assertEqual(chaos.revision_anomalies(ops), [])
        ops.append(op("get", 0, 200, read="11", rev=6))
        self.assertEqual(len(chaos.revision_anomalies(ops)), 1)

    def test_two_writes_at_one_revision(self):
        ops = [op("put", 0, 200, 11, 5), op("put", 1, 200, 12, 5)]
        self.assertEqual(len(chaos.revision_anomalies(ops)), 1)


class Percentile(unittest.TestCase):
    def test_nearest_rank(self):
        xs = list(range(1, 101))
        self.assertEqual(chaos.percentile(xs, 50), 50)
        self.assertEqual(chaos.percentile(xs, 99), 99)
        self.assertEqual(chaos.percentile([7], 99), 7)
        self.assertEqual(chaos.percentile([], 50), 0.0)


if __name__ == "__main__":
    unittest.main()
