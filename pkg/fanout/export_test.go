package fanout

// Subscribers returns the number of registered subscribers (for tests).
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.all)
}
