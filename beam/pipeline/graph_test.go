package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// The pipeline graph a runner receives (and a job server stores) holds
// where the key is, never the key: not as bytes, hex or base64, for a
// private release and a non-private one.
func TestSubmittedGraphHoldsNoKey(t *testing.T) {
	for _, private := range []bool{true, false} {
		opts := fixture(t, sampleEvents(t))
		opts.NonPrivate = !private
		opts.Release.Epsilon, opts.Release.Delta = 1, 1e-6
		v, err := validate(context.Background(), opts)
		require.NoError(t, err)
		p, err := construct(v, filepath.Join(opts.TempDir, "out"))
		require.NoError(t, err)
		edges, _, err := p.Build()
		require.NoError(t, err)
		graph, err := graphx.Marshal(edges, &graphx.Options{Environment: &pipepb.Environment{Urn: "beam:env:loopback:v1"}})
		require.NoError(t, err)
		wire, err := proto.Marshal(graph)
		require.NoError(t, err)
		// The SDK serializes each DoFn and CombineFn as the JSON of its
		// exported fields, nested in encoded payloads: look at that JSON.
		for _, e := range edges {
			for _, recv := range []any{doFnRecv(e.DoFn), combineFnRecv(e.CombineFn)} {
				if recv != nil {
					j, err := json.Marshal(recv)
					require.NoError(t, err)
					wire = append(wire, j...)
				}
			}
		}

		require.True(t, bytes.Contains(wire, []byte(opts.KeyFile)), "the graph names the key file (so the search below looks where the key would be)")
		for name, form := range map[string][]byte{
			"raw":       testSecret,
			"hex":       []byte(hex.EncodeToString(testSecret)),
			"HEX":       bytes.ToUpper([]byte(hex.EncodeToString(testSecret))),
			"base64":    []byte(base64.StdEncoding.EncodeToString(testSecret)),
			"base64url": []byte(base64.RawURLEncoding.EncodeToString(testSecret)),
		} {
			assert.False(t, bytes.Contains(wire, form), "private=%v: the key (%s) is in the graph", private, name)
		}
	}
}

func doFnRecv(f *graph.DoFn) any {
	if f == nil {
		return nil
	}
	return f.Recv
}

func combineFnRecv(f *graph.CombineFn) any {
	if f == nil {
		return nil
	}
	return f.Recv
}
