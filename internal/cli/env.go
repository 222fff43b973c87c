package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every flag: --key-file is
// also PRIVREC_KEY_FILE.
const envPrefix = "PRIVREC_"

// envName returns the environment variable that sets a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagsFromEnv sets each of c's flags that the command line left unset
// from its environment variable, if lookup finds one: the command line
// wins over the environment, which wins over the default. A value the flag
// refuses is a usage error that names the variable.
func flagsFromEnv(c *cobra.Command, lookup func(string) (string, bool)) error {
	var err error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		v, ok := lookup(envName(f.Name))
		if !ok {
			return
		}
		if e := c.Flags().Set(f.Name, v); e != nil {
			err = usageErr("%s=%q: %v (see '%s --help')", envName(f.Name), v, e, c.CommandPath())
		}
	})
	return err
}
