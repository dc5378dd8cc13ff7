"""Server-side login sessions, the browser's device, the sessions and activity pages."""
