package members

import "github.com/gin-gonic/gin"

// RegisterConsole adds the member pages to g, the console's group of
// signed-in staff.
func (h *HTTP) RegisterConsole(g *gin.RouterGroup) {}
