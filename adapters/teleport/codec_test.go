package teleport

import (
	"bytes"
	"testing"

	"github.com/gravitational/teleport/api/types"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestCodecGogoWireBytes: a gogo message goes through its generated
// methods and comes out as the same bytes, and back as the same request.
func TestCodecGogoWireBytes(t *testing.T) {
	req, err := types.NewAccessRequest("0b6f5e7e-3a51-4f0e-9a0e-000000000001", "alice", "editor")
	if err != nil {
		t.Fatal(err)
	}
	req.SetRequestReason("on call")
	c := newCodec()
	out, err := c.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := req.(*types.AccessRequestV3).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Materialize(); !bytes.Equal(got, want) {
		t.Fatalf("codec bytes differ from the generated Marshal: %d vs %d bytes", len(got), len(want))
	}
	var back types.AccessRequestV3
	back.Spec.RequestReason = "stale field, must be reset"
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(want)}, &back); err != nil {
		t.Fatal(err)
	}
	if back.GetName() != req.GetName() || back.GetUser() != "alice" || back.GetRequestReason() != "on call" {
		t.Fatalf("decoded %s/%s/%q", back.GetName(), back.GetUser(), back.GetRequestReason())
	}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0xff})}, &back); err == nil {
		t.Fatal("a truncated message decoded without error")
	}
}

// TestCodecOtherMessages: messages of protoc-gen-go go to gRPC's codec.
func TestCodecOtherMessages(t *testing.T) {
	c := newCodec()
	out, err := c.Marshal(wrapperspb.String("rule"))
	if err != nil {
		t.Fatal(err)
	}
	var back wrapperspb.StringValue
	if err := c.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.GetValue() != "rule" {
		t.Fatalf("decoded %q", back.GetValue())
	}
}
