package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/privrec/privrec/pseudonym"
)

func (a *app) keygenCmd() *cobra.Command {
	var out string
	var force bool
	c := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Write a new random master secret for pseudonymization (mode 0600)",
		Long: `keygen writes a new 32-byte master secret, hex-encoded, to a file readable only by its owner.
Keep it secret and backed up: with it, pseudonyms can be recomputed; without it, models built
from different keys treat the same person as different people.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("--out is required")
			}
			secret, err := pseudonym.GenerateSecret()
			if err != nil {
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(out, flags, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s exists; refusing to overwrite a key (use --force)", out)
			}
			if err != nil {
				return err
			}
			if err := f.Chmod(0o600); err != nil {
				f.Close()
				return err
			}
			if _, err := f.WriteString(pseudonym.EncodeSecret(secret)); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"key_file": out})
			}
			fmt.Fprintf(a.stdout, "wrote a new master secret to %s (mode 0600)\n", out)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "file to write the secret to")
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return c
}
