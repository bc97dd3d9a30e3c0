package members

import "github.com/gin-gonic/gin"

// RegisterSite adds the booking site's member pages to g ("/t/:tenant"
// after the tenant middleware).
func (h *HTTP) RegisterSite(g *gin.RouterGroup) {}
