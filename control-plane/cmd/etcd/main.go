// Command etcd is upstream etcd's server, built from go.etcd.io/etcd/server/v3 at the version
// go.mod pins (the one the pinned Kubernetes release itself requires).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
