module github.com/cachetier/cachetier

go 1.26.0
