package azblob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	sdk "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/blastlog/blastlog/adapters/archive"
	"github.com/blastlog/blastlog/core/chunk"
	"github.com/blastlog/blastlog/core/job"
	"github.com/blastlog/blastlog/ports"
)

// DefaultContainer is the seed system's container.
const DefaultContainer = "job-artifacts"

// maxBlob bounds what one read takes into memory (chunks are at most 1 MiB; an index
// of a very long run is larger).
const maxBlob = 64 << 20

// Store is an archive in one Blob container.
type Store struct {
	client    *sdk.Client
	container string
}

var (
	_ ports.Archive      = (*Store)(nil)
	_ ports.ArchiveIndex = (*Store)(nil)
)

func options() *sdk.ClientOptions {
	return &sdk.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: 2, TryTimeout: 15 * time.Second, RetryDelay: 200 * time.Millisecond},
	}}
}

// New connects with a credential to a container URL,
// https://<account>.blob.core.windows.net/<container>.
func New(containerURL string, cred azcore.TokenCredential) (*Store, error) {
	u, err := url.Parse(containerURL)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, errors.New("archive URL: want https://<account>.blob.core.windows.net/<container>")
	}
	name := strings.Trim(u.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return nil, errors.New("archive URL: the path must be exactly one container name")
	}
	u.Path, u.RawQuery, u.Fragment = "/", "", ""
	c, err := sdk.NewClient(u.String(), cred, options())
	if err != nil {
		return nil, fmt.Errorf("archive URL: %w", err)
	}
	return &Store{client: c, container: name}, nil
}

// NewFromConnectionString connects with a storage connection string (shared key,
// Azurite). Errors never contain the string.
func NewFromConnectionString(conn, container string) (*Store, error) {
	if container == "" {
		container = DefaultContainer
	}
	c, err := sdk.NewClientFromConnectionString(conn, options())
	if err != nil {
		return nil, errors.New("archive connection string: it does not parse (its text is not shown)")
	}
	return &Store{client: c, container: container}, nil
}

// EnsureContainer creates the container if it is missing. An identity that may write
// blobs but not create containers is fine when the container exists.
func (s *Store) EnsureContainer(ctx context.Context) error {
	_, err := s.client.CreateContainer(ctx, s.container, nil)
	if err == nil || bloberror.HasCode(err, bloberror.ContainerAlreadyExists, bloberror.AuthorizationPermissionMismatch,
		bloberror.AuthorizationFailure) {
		return nil
	}
	return failure("container "+s.container, err)
}

// failure maps a storage error to the port's.
func failure(what string, err error) error {
	if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
		return fmt.Errorf("%s: %w", what, ports.ErrNotFound)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, ports.ErrUnavailable, err)
}

// PutChunk implements ports.Archive. A missing container is created once.
func (s *Store) PutChunk(ctx context.Context, c chunk.Chunk) error { return s.putChunk(ctx, c, true) }

func (s *Store) putChunk(ctx context.Context, c chunk.Chunk, create bool) error {
	name := chunk.Name(c.JobID, c.Step, c.Sequence)
	_, err := s.client.UploadBuffer(ctx, s.container, name, c.Encode(), &sdk.UploadBufferOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: ptr(azcore.ETagAny)}},
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/json")},
	})
	if create && bloberror.HasCode(err, bloberror.ContainerNotFound) {
		if err = s.EnsureContainer(ctx); err == nil {
			return s.putChunk(ctx, c, false)
		}
	}
	if bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) {
		return fmt.Errorf("chunk %s: %w", name, ports.ErrExists)
	}
	if err != nil {
		return failure("chunk "+name, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// read downloads a blob (at most maxBlob bytes) with its ETag.
func (s *Store) read(ctx context.Context, name string) ([]byte, string, error) {
	resp, err := s.client.DownloadStream(ctx, s.container, name, nil)
	if err != nil {
		return nil, "", failure(name, err)
	}
	defer resp.Body.Close()
	// Read into a buffer of the announced size (one allocation, not ReadAll's
	// doublings); the limit holds whatever the length says.
	var buf bytes.Buffer
	if n := resp.ContentLength; n != nil && *n > 0 && *n <= maxBlob {
		buf.Grow(int(*n) + bytes.MinRead) // ReadFrom wants MinRead free before it sees EOF
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBlob+1))
	b := buf.Bytes()
	if err != nil {
		return nil, "", failure(name, err)
	}
	if len(b) > maxBlob {
		return nil, "", fmt.Errorf("%s: %w: larger than %d bytes", name, ports.ErrUnavailable, maxBlob)
	}
	etag := ""
	if resp.ETag != nil {
		etag = string(*resp.ETag)
	}
	return b, etag, nil
}

// Chunk implements ports.Archive.
func (s *Store) Chunk(ctx context.Context, jobID, step string, seq int) ([]byte, error) {
	b, _, err := s.read(ctx, chunk.Name(jobID, step, seq))
	return b, err
}

// list calls f with every blob name under prefix.
func (s *Store) list(ctx context.Context, prefix string, f func(name string)) error {
	pager := s.client.NewListBlobsFlatPager(s.container, &sdk.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				return nil
			}
			return failure("list "+prefix, err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name != nil {
				f(*b.Name)
			}
		}
	}
	return nil
}

// Chunks implements ports.Archive.
func (s *Store) Chunks(ctx context.Context, jobID string) (map[string][]chunk.Ref, error) {
	dir := chunk.LogsDir(jobID)
	out := map[string][]chunk.Ref{}
	err := s.list(ctx, dir, func(name string) {
		if step, seq, ok := chunk.ParseName(strings.TrimPrefix(name, dir)); ok {
			out[step] = append(out[step], chunk.Ref{Seq: seq})
		}
	})
	return out, err
}

// Index implements ports.ArchiveIndex; the version is the blob's ETag.
func (s *Store) Index(ctx context.Context, jobID string) (chunk.Index, string, error) {
	name := chunk.IndexName(jobID)
	b, etag, err := s.read(ctx, name)
	if err != nil {
		return chunk.Index{}, "", err
	}
	idx, err := chunk.DecodeIndex(b)
	if err != nil {
		return chunk.Index{}, "", fmt.Errorf("index %s: %w: %w", name, ports.ErrUnavailable, err)
	}
	return idx, etag, nil
}

// PutIndex implements ports.ArchiveIndex with If-Match (or If-None-Match: * for the
// first write).
func (s *Store) PutIndex(ctx context.Context, idx chunk.Index, version string) (string, error) {
	name := chunk.IndexName(idx.JobID)
	cond := &blob.ModifiedAccessConditions{IfNoneMatch: ptr(azcore.ETagAny)}
	if version != "" {
		cond = &blob.ModifiedAccessConditions{IfMatch: ptr(azcore.ETag(version))}
	}
	resp, err := s.client.UploadBuffer(ctx, s.container, name, idx.Encode(), &sdk.UploadBufferOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: cond},
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/json")},
	})
	if bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists, bloberror.BlobNotFound) {
		return "", fmt.Errorf("index %s: %w", name, ports.ErrConflict)
	}
	if err != nil {
		return "", failure("index "+name, err)
	}
	if err := s.putOwner(ctx, idx); err != nil {
		return "", err
	}
	if resp.ETag == nil {
		return "", fmt.Errorf("index %s: %w: no ETag in the answer", name, ports.ErrUnavailable)
	}
	return string(*resp.ETag), nil
}

type ownerRecord struct {
	JobID  string       `json:"job_id"`
	Record chunk.Record `json:"record"`
}

func (s *Store) putOwner(ctx context.Context, idx chunk.Index) error {
	if idx.Record.OwnerOID == "" {
		return nil
	}
	b, _ := json.Marshal(ownerRecord{JobID: idx.JobID, Record: idx.Record})
	name := archive.OwnersDir + job.SafeID(idx.Record.OwnerOID) + "/" + chunk.RunDir(idx.JobID) + ".json"
	if _, err := s.client.UploadBuffer(ctx, s.container, name, b, nil); err != nil {
		return failure("owner record "+name, err)
	}
	return nil
}

// maxOwnerReads bounds the records one run list reads.
const maxOwnerReads = 2000

// OwnerRuns implements ports.ArchiveIndex.
func (s *Store) OwnerRuns(ctx context.Context, ownerOID string, limit int) ([]job.Record, error) {
	if ownerOID == "" {
		return nil, nil
	}
	var names []string
	if err := s.list(ctx, archive.OwnersDir+job.SafeID(ownerOID)+"/", func(n string) {
		if len(names) < maxOwnerReads {
			names = append(names, n)
		}
	}); err != nil {
		return nil, err
	}
	var out []job.Record
	for _, n := range names {
		b, _, err := s.read(ctx, n)
		if err != nil {
			continue
		}
		var or ownerRecord
		if json.NewDecoder(bytes.NewReader(b)).Decode(&or) == nil && or.Record.OwnerOID == ownerOID {
			out = append(out, or.Record.Job(or.JobID))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out[:min(len(out), limit)], nil
}
