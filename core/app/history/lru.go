package history

import (
	"container/list"
	"sync"

	"github.com/blastlog/blastlog/core/chunk"
)

// lru keeps decoded chunks (immutable, so never stale) up to a byte budget, and loads
// each missing one once however many readers ask for it at the same time: a thousand
// viewers resuming in the same archived range read each chunk from storage once.
type lru struct {
	mu      sync.Mutex
	max     int64
	size    int64
	order   *list.List // front: most recently used
	entries map[string]*list.Element
	loading map[string]*load
}

type entry struct {
	name  string
	chunk *chunk.Chunk
	size  int64
}

type load struct {
	done  chan struct{}
	chunk *chunk.Chunk
	err   error
}

func newLRU(max int64) *lru {
	return &lru{max: max, order: list.New(), entries: map[string]*list.Element{}, loading: map[string]*load{}}
}

// get returns the named chunk, calling fetch at most once per name at a time.
func (c *lru) get(name string, fetch func() (*chunk.Chunk, int64, error)) (*chunk.Chunk, error) {
	c.mu.Lock()
	if el, ok := c.entries[name]; ok {
		c.order.MoveToFront(el)
		ch := el.Value.(*entry).chunk
		c.mu.Unlock()
		return ch, nil
	}
	if l, ok := c.loading[name]; ok {
		c.mu.Unlock()
		<-l.done
		return l.chunk, l.err
	}
	l := &load{done: make(chan struct{})}
	c.loading[name] = l
	c.mu.Unlock()

	ch, size, err := fetch()
	l.chunk, l.err = ch, err
	c.mu.Lock()
	delete(c.loading, name)
	if err == nil && size <= c.max {
		c.entries[name] = c.order.PushFront(&entry{name: name, chunk: ch, size: size})
		c.size += size
		for c.size > c.max {
			el := c.order.Back()
			e := el.Value.(*entry)
			c.order.Remove(el)
			delete(c.entries, e.name)
			c.size -= e.size
		}
	}
	c.mu.Unlock()
	close(l.done)
	return ch, err
}

// peek returns the named chunk if it is kept, without loading it.
func (c *lru) peek(name string) (*chunk.Chunk, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[name]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry).chunk, true
}
