// Command kubectl is the upstream kubectl, so that a fresh machine can follow the seed
// documents (`kubectl apply -f ...`) against a local cluster without installing anything else.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
