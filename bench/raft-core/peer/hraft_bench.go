// hraft_bench: the peer of bench/raft-core (see run.sh): a 3-voter
// hashicorp/raft cluster over InmemTransport and InmemStore, committing N
// 64-byte entries in pipelined batches of 64. usage: hraft_bench N
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

type fsm struct{ n uint64 }

func (f *fsm) Apply(l *raft.Log) interface{}       { f.n++; return nil }
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("no") }
func (f *fsm) Restore(io.ReadCloser) error         { return nil }

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	ids := []raft.ServerID{"1", "2", "3"}
	var trans []*raft.InmemTransport
	var addrs []raft.ServerAddress
	for range ids {
		a, t := raft.NewInmemTransport("")
		trans = append(trans, t)
		addrs = append(addrs, a)
	}
	for i := range trans {
		for j := range trans {
			if i != j {
				trans[i].Connect(addrs[j], trans[j])
			}
		}
	}
	var conf raft.Configuration
	for i, id := range ids {
		conf.Servers = append(conf.Servers, raft.Server{ID: id, Address: addrs[i]})
	}
	var nodes []*raft.Raft
	for i, id := range ids {
		c := raft.DefaultConfig()
		c.LocalID = id
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Error})
		c.HeartbeatTimeout = 1000 * time.Millisecond
		c.ElectionTimeout = 1000 * time.Millisecond
		c.LeaderLeaseTimeout = 500 * time.Millisecond
		store := raft.NewInmemStore()
		snaps := raft.NewInmemSnapshotStore()
		raft.BootstrapCluster(c, store, store, snaps, trans[i], conf)
		r, err := raft.NewRaft(c, &fsm{}, store, store, snaps, trans[i])
		if err != nil {
			panic(err)
		}
		nodes = append(nodes, r)
	}
	var leader *raft.Raft
	for leader == nil {
		for _, r := range nodes {
			if r.State() == raft.Leader {
				leader = r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	data := make([]byte, 64)
	var fs []raft.ApplyFuture
	for i := 0; i < n; i++ {
		fs = append(fs, leader.Apply(data, 0))
		if len(fs) == 64 {
			for _, f := range fs {
				if err := f.Error(); err != nil {
					panic(err)
				}
			}
			fs = fs[:0]
		}
	}
	for _, f := range fs {
		if err := f.Error(); err != nil {
			panic(err)
		}
	}
	fmt.Printf("hashicorp/raft committed=%d\n", n)
	os.Exit(0)
}
