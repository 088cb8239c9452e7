--[[ The 2PC prepare of an account: see includes/account.lua. ]]
--@include "includes/account.lua"
return account_try(true)
